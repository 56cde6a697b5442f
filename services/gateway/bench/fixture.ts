/** The text of every post the bench writes (~180 characters, as in the events bench). */
export const postBody =
  "Had a rough week, but this circle keeps me going. I tried the breathing exercise before " +
  "the interview on Tuesday and it helped more than I expected. Thank you all for listening.";
